"""The local language model: GGUF files run in-process through llama-cpp-python."""
