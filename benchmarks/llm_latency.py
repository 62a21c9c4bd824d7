"""Chat latency: first token on a first and a follow-up turn, prompt and generation speed, memory.

Runs the whole app (SQLite, embedder, Chroma, recall, the chat model on its worker thread) in a temporary
data folder, and raw llama-cpp-python on the same GGUF in the same run as the baseline.

    python benchmarks/llm_latency.py             # 5 alternating rounds of 64 generated tokens (medians)
    python benchmarks/llm_latency.py --quick     # 2 rounds of 32 tokens (about a minute on an idle machine)
    python benchmarks/llm_latency.py --json      # last line: one JSON object of figures
    python benchmarks/llm_latency.py --model PATH.gguf --threads 4
Targets (2 threads): follow-up first token <= 1.5 s with ~300 tokens of recalled memories; generation >= 90% of
raw llama-cpp-python; resident memory of the whole app with the model loaded < 600 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from storage.records import NewMemory  # noqa: E402

FACTS = [
    "My sister Alice lives in Lyon and works as a night-shift nurse at the Edouard Herriot hospital.",
    "I am allergic to penicillin; the reaction was a rash in 2019, so doctors should use something else.",
    "Our daughter Maya starts primary school at Ecole Jean Mace in September; drop-off is at 8:20.",
    "I run the Saturday parkrun at Parc de la Tete d'Or, aiming for under 25 minutes this spring.",
    "The car, a blue 2016 Skoda Octavia, is due for its service and MOT at the garage in March.",
    "My manager is Priya Nair; our one-to-one meetings are on Tuesdays at 10 in room 4B.",
    "I want to learn Japanese before our trip to Kyoto next May, about twenty minutes a day.",
    "Mum's birthday is on 14 August; she likes orchids and dark chocolate with sea salt.",
    "The flat's boiler was repaired by Marc from ThermoFix on 3 February; the warranty lasts a year.",
    "I prefer green tea in the afternoon because coffee after 2 pm keeps me awake at night.",
    "Our book club meets every first Thursday; this month we read 'The Remains of the Day'.",
    "The password manager is Bitwarden; the recovery codes are in the grey folder in the desk.",
    "Ben, my brother, moved to Toronto last year and works as a structural engineer.",
    "I am saving for a new road bike, a Canyon Endurace, and have put aside 900 euros so far.",
    "The dentist, Dr Laurent, wants a check-up every six months; the last one was in October.",
]
# Six recalled memories of this length make about 300 prompt tokens, the follow-up scenario.
RECALL_K = 6
FIRST_QUESTION = "Hello! Can you remind me what you know about my family?"
FOLLOW_UP = "What do I need to remember about my health, my car, my sister and my savings?"
GEN_PROMPT = [{"role": "system", "content": "You are a helpful assistant."},
              {"role": "user", "content": "Write a long story about a lighthouse keeper and a storm."}]


def machine() -> dict:
    import llama_cpp

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import psutil

    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "load_avg_1m": round(os.getloadavg()[0], 2), "os": platform.platform(),
            "python": platform.python_version(), "llama_cpp_python": llama_cpp.__version__}


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def timed_stream(pieces) -> tuple[float, float, int]:
    """(seconds to the first piece, generation tok/s after it, pieces) for an iterator of streamed pieces."""
    start = time.perf_counter()
    first = None
    n = 0
    for _ in pieces:
        n += 1
        if first is None:
            first = time.perf_counter()
    end = time.perf_counter()
    rate = (n - 1) / (end - first) if n > 1 and end > first else 0.0
    return (first or end) - start, rate, n


def raw_run(llm, prompt_tokens: list[int], max_tokens: int) -> tuple[float, int, float, float]:
    """Raw llama-cpp-python on the same prompt: (gen tok/s, pieces, prompt tok/s, prompt tokens evaluated)."""
    import llama_cpp

    llm.reset()  # a cold prompt, so prompt evaluation is measured in full
    llama_cpp.llama_perf_context_reset(llm._ctx.ctx)
    stream = llm.create_completion(prompt_tokens, max_tokens=max_tokens, temperature=0.0, stream=True)
    _, rate, n = timed_stream(c for c in stream)
    perf = llama_cpp.llama_perf_context(llm._ctx.ctx)
    prompt_rate = perf.n_p_eval / (perf.t_p_eval_ms / 1000) if perf.t_p_eval_ms else 0.0
    return rate, n, prompt_rate, perf.n_p_eval


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="End with one JSON line of figures.")
    parser.add_argument("--quick", action="store_true", help="Two rounds of 32 tokens.")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", type=Path, default=None, help="A GGUF file (default: the packaged SmolLM2).")
    args = parser.parse_args()
    rounds, gen_tokens = (2, 32) if args.quick else (5, 64)

    home = tempfile.mkdtemp(prefix="secondme-llm-bench-")
    os.environ.update(SECONDME_HOME=home, SECONDME_THREADS=str(args.threads), SECONDME_TEMPERATURE="0",
                      SECONDME_MAX_TOKENS=str(gen_tokens), SECONDME_RECALL_K=str(RECALL_K))
    if args.model:
        os.environ["SECONDME_CHAT_MODEL_PATH"] = str(args.model)
    import storage.offline  # noqa: F401
    from assistant.app import App
    from assistant.prompt import memory_block, render_memory

    rss_start = rss_mb()
    app = App()
    app.memory.remember_many([NewMemory(f) for f in FACTS])
    load_start = time.perf_counter()
    llm = app.llm
    load_s = time.perf_counter() - load_start
    model_path = llm.model.path
    chat = app.chat

    # First turn: nothing cached but what llama.cpp holds from no earlier call.
    sid = chat.new_session().id
    marks: dict[str, float] = {}

    def first_piece(_piece: str) -> None:
        marks.setdefault("first", time.perf_counter())

    t0 = time.perf_counter()
    first = chat.send(sid, FIRST_QUESTION, on_token=first_piece)
    first_turn_s = marks["first"] - t0
    # Follow-up turn: the system text and the first round are the cached prefix; memories + question are new.
    marks.clear()
    t0 = time.perf_counter()
    follow = chat.send(sid, FOLLOW_UP, on_token=first_piece)
    follow_turn_s = marks["first"] - t0
    memory_tokens = llm.count_tokens(memory_block([render_memory(h, i) for i, h in enumerate(follow.recalled, 1)]))
    rss_app = rss_mb()

    # Generation speed: the app's path (worker thread, template, streaming) against raw llama-cpp-python.
    from llama_cpp import Llama

    prompt_tokens = llm.model.llm.tokenize(llm.render(GEN_PROMPT).encode(), add_bos=False, special=True)
    raw = Llama(model_path=str(model_path), n_ctx=app.settings.context_size, n_threads=args.threads,
                n_threads_batch=args.threads, verbose=False)
    app_rates, raw_rates, raw_prompt_rates, app_prompt_rates = [], [], [], []
    import llama_cpp

    for _ in range(rounds):  # alternate, so drift in machine load hits both alike
        llm.model.llm.reset()
        llama_cpp.llama_perf_context_reset(llm.model.llm._ctx.ctx)
        _, rate, n_app = timed_stream(llm.stream_chat(GEN_PROMPT, max_tokens=gen_tokens, temperature=0.0))
        perf = llama_cpp.llama_perf_context(llm.model.llm._ctx.ctx)
        app_prompt_rates.append(perf.n_p_eval / (perf.t_p_eval_ms / 1000) if perf.t_p_eval_ms else 0.0)
        app_rates.append(rate)
        rate, n_raw, prompt_rate, _ = raw_run(raw, prompt_tokens, gen_tokens)
        raw_rates.append(rate)
        raw_prompt_rates.append(prompt_rate)
    app_gen, raw_gen = statistics.median(app_rates), statistics.median(raw_rates)
    raw.close()
    app.close()

    figures = {
        "model": model_path.name, "threads": args.threads, "rounds": rounds, "generated_tokens_per_round": gen_tokens,
        "model_load_s": round(load_s, 3),
        "first_turn_first_token_s": round(first_turn_s, 3),
        "first_turn_prompt_tokens": first.timings["prompt_tokens"],
        "follow_up_first_token_s": round(follow_turn_s, 3),
        "follow_up_llm_first_token_s": follow.timings["first_token_s"],
        "follow_up_prompt_tokens": follow.timings["prompt_tokens"],
        "follow_up_recalled_memories": len(follow.recalled), "follow_up_memory_tokens": memory_tokens,
        "prompt_eval_tok_s": round(statistics.median(app_prompt_rates), 1),
        "raw_prompt_eval_tok_s": round(statistics.median(raw_prompt_rates), 1),
        "generation_tok_s": round(app_gen, 1), "raw_generation_tok_s": round(raw_gen, 1),
        "generation_vs_raw": round(app_gen / raw_gen, 3) if raw_gen else None,
        "rss_before_app_mb": round(rss_start, 1), "rss_app_with_model_mb": round(rss_app, 1),
        "targets": {"follow_up_first_token_s": 1.5, "generation_vs_raw": 0.9, "rss_app_with_model_mb": 600},
        "machine": machine(),
    }
    rows = [
        ("model", f"{figures['model']} ({args.threads} threads), loaded in {load_s:.2f} s", ""),
        ("first turn: first token", f"{first_turn_s:.2f} s ({figures['first_turn_prompt_tokens']} prompt tokens)", ""),
        ("follow-up: first token", f"{follow_turn_s:.2f} s ({figures['follow_up_prompt_tokens']} prompt tokens, "
         f"{memory_tokens} of them {len(follow.recalled)} recalled memories)", "<= 1.5 s"),
        ("  of which the model", f"{follow.timings['first_token_s']:.2f} s (after recall and prompt building)", ""),
        ("prompt eval", f"{figures['prompt_eval_tok_s']} tok/s (raw {figures['raw_prompt_eval_tok_s']})", ""),
        ("generation", f"{figures['generation_tok_s']} tok/s (raw {figures['raw_generation_tok_s']}) = "
         f"{figures['generation_vs_raw']:.0%} of raw", ">= 90%"),
        ("resident memory", f"{rss_app:.0f} MB whole app with the model loaded", "< 600 MB"),
        ("machine", f"{figures['machine']['cpu']}, {figures['machine']['cores']} cores, "
         f"{figures['machine']['ram_gb']} GB, load {figures['machine']['load_avg_1m']}", ""),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, target in rows:
        print(f"{name:<{width}}  {value}" + (f"   [target {target}]" if target else ""))
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
