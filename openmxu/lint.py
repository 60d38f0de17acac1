"""``openmxu lint``: ``verilator --lint-only -Wall`` on generated Verilog, with the waivers of
``rtl/lint_waivers.vlt`` (each one commented there)."""

import subprocess
import sys
from pathlib import Path

__all__ = ["lint", "WAIVERS"]

WAIVERS = Path(__file__).resolve().parents[1] / "rtl" / "lint_waivers.vlt"


def lint(path, *, top=None):
    """Lint ``path``; prints Verilator's report and returns its exit status (0 when clean)."""
    from sim.runner import verilator_environment
    path = Path(path)
    if not path.exists():
        raise ValueError(f"no such Verilog file: {path}")
    top = top or path.stem
    command = ["verilator", "--lint-only", "-Wall", "--top-module", top, str(WAIVERS), str(path)]
    result = subprocess.run(command, env=verilator_environment(), capture_output=True, text=True)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if result.returncode == 0:
        print(f"lint clean: {path} (verilator --lint-only -Wall, waivers in "
              f"{WAIVERS.relative_to(WAIVERS.parents[1])})")
    return result.returncode
