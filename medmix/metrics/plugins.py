"""Loading user metrics from a Python file (`--plugin file.py`) or the `medmix.metrics` entry-point group."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

from medmix.errors import InputError, MedmixError

_LOADED_FILES: dict[Path, object] = {}
_ENTRY_POINTS_LOADED = False


def load_plugin(path: str | Path):
    """Import a Python file once; its `@medmix.metric` decorators register its metrics. Returns the module."""
    from medmix.user_paths import require_file

    file = Path(path).expanduser().resolve()
    if file in _LOADED_FILES:
        return _LOADED_FILES[file]
    require_file(path, f"plugin {str(path)!r}", "a .py file that registers metrics with @medmix.metric")
    digest = hashlib.sha1(str(file).encode()).hexdigest()[:10]
    name = f"medmix_plugin_{file.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise InputError(f"plugin {str(path)!r}: not an importable Python file.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except MedmixError:
        sys.modules.pop(name, None)
        raise
    except Exception as exc:
        sys.modules.pop(name, None)
        raise InputError(f"plugin {str(path)!r} failed to import: {type(exc).__name__}: {exc}") from exc
    _LOADED_FILES[file] = module
    return module


def load_entry_point_plugins(group: str = "medmix.metrics") -> list[str]:
    """Import every module advertised under the entry-point group (once per process)."""
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return []
    _ENTRY_POINTS_LOADED = True
    from importlib.metadata import entry_points

    loaded = []
    for ep in entry_points(group=group):
        try:
            ep.load()
        except Exception as exc:
            raise MedmixError(
                f"the installed package providing entry point {ep.name!r} ({ep.value}) in group {group!r} "
                f"failed to load: {type(exc).__name__}: {exc}. Reinstall or uninstall that package."
            ) from exc
        loaded.append(ep.name)
    return loaded
