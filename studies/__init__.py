"""The built-in studies of satsim, one module each.

In the repository this is the top-level ``studies/`` folder; the wheel ships it as
the subpackage :mod:`satsim.studies`, so installed users, process workers and Dask
workers import every study by name (``satsim.studies.clt``).  Each module declares
``ORDER`` (its place in ``satsim report``): a new study appears in the report by
adding one file here.  See :mod:`satsim.study` for what a study defines.
"""
