"""Formal checks of openmxu with SymbiYosys: protocol checkers bound to the design's real
ports, invariants, covers that show the properties are not vacuous, and mutation jobs that
show the checkers catch a broken design.

Every module named in :data:`JOB_MODULES` has a ``JOBS`` tuple of
:class:`~rtl.formal.job.FormalJob`; ``openmxu formal`` (``make formal``) runs them all.
"""

from importlib import import_module

from .job import FormalJob

__all__ = ["JOB_MODULES", "all_jobs", "FormalJob"]

#: Modules of :mod:`rtl.formal` that list jobs in a ``JOBS`` tuple.
JOB_MODULES = (
    "streams",
    "axi",
    "systolic",
    "controller",
)


def all_jobs():
    """Every job of :data:`JOB_MODULES`, in order; ``ValueError`` if two share a name."""
    jobs, owners = [], {}
    for module_name in JOB_MODULES:
        module = import_module(f"{__name__}.{module_name}")
        for job in module.JOBS:
            if not isinstance(job, FormalJob):
                raise ValueError(f"{module_name}.JOBS holds {job!r}, not a FormalJob")
            if job.name in owners:
                raise ValueError(f"job name {job.name!r} is used by both "
                                 f"{owners[job.name]} and {module_name}")
            owners[job.name] = module_name
            jobs.append(job)
    return jobs
