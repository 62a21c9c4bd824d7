"""The written form of a keyboard shortcut in the settings, e.g. "Ctrl+Alt+Space".

Modifiers name the physical keys on every system: Ctrl is the Control key (also on a Mac, unlike Qt's
convention), Alt is Alt/Option, Super is the Windows/Command/Super key. No Qt or input library here: the
settings are checked with it before anything tries to grab a key.
"""

from __future__ import annotations

MODIFIERS = {"ctrl": "Ctrl", "control": "Ctrl", "alt": "Alt", "option": "Alt", "shift": "Shift",
             "super": "Super", "win": "Super", "cmd": "Super", "command": "Super", "meta": "Super"}
MODIFIER_ORDER = ("Ctrl", "Alt", "Shift", "Super")
NAMED_KEYS = {"space": "Space", "tab": "Tab", "enter": "Enter", "return": "Enter", "esc": "Esc", "escape": "Esc",
              "insert": "Insert", "ins": "Insert", "delete": "Delete", "del": "Delete", "backspace": "Backspace",
              "home": "Home", "end": "End", "pageup": "PageUp", "pgup": "PageUp", "pagedown": "PageDown",
              "pgdown": "PageDown", "up": "Up", "down": "Down", "left": "Left", "right": "Right",
              "pause": "Pause", "print": "Print"}
FUNCTION_KEYS = {f"f{n}": f"F{n}" for n in range(1, 21)}


def normalize_hotkey(spec: str) -> str:
    """'ctrl + alt + space' -> 'Ctrl+Alt+Space'; '' (off) stays ''. ValueError says what is wrong."""
    spec = (spec or "").strip()
    if not spec:
        return ""
    parts = [p.strip() for p in spec.split("+")]
    if any(not p for p in parts):
        raise ValueError(f"'{spec}' has an empty part; write keys joined by +, e.g. Ctrl+Alt+Space")
    *mods, key = parts
    modifiers = set()
    for m in mods:
        if m.lower() not in MODIFIERS:
            raise ValueError(f"'{m}' is not a modifier; use Ctrl, Alt, Shift or Super before the key")
        modifiers.add(MODIFIERS[m.lower()])
    lower = key.lower()
    if lower in MODIFIERS:
        raise ValueError(f"'{spec}' ends in a modifier; end it with a key, e.g. Ctrl+Alt+Space")
    if lower in NAMED_KEYS:
        key = NAMED_KEYS[lower]
    elif lower in FUNCTION_KEYS:
        key = FUNCTION_KEYS[lower]
    elif len(key) == 1 and key.isascii() and key.isalnum():
        key = key.upper()
    else:
        raise ValueError(f"Unknown key '{key}'; use a letter, a digit, F1-F20, or one of: "
                         + ", ".join(sorted(set(NAMED_KEYS.values()))))
    if key not in FUNCTION_KEYS.values() and not modifiers & {"Ctrl", "Alt", "Super"}:
        # Otherwise every time the user typed that key (or its capital) the popup would open.
        raise ValueError(f"'{spec}' would fire while typing; add Ctrl, Alt or Super")
    return "+".join([m for m in MODIFIER_ORDER if m in modifiers] + [key])
