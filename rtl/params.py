"""Eager validation of generator parameters, shared by the components."""

from contextlib import contextmanager

from openmxu.config import check_int

__all__ = ["check_int", "check_widths", "validating"]


def check_widths(operand_width, acc_width):
    check_int("operand_width", operand_width, 2, 32)
    check_int("acc_width", acc_width, 2 * operand_width, 128,
              extra=f" (at least 2 x operand_width = {2 * operand_width})")


@contextmanager
def validating(component):
    """Run a component's parameter checks. A component whose parameters were rejected is not
    reported as "created but never used" on top of its ``ValueError``."""
    try:
        yield
    except ValueError:
        component._MustUse__silence = True
        raise
