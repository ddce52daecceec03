"""Imports of the figures the city measures and of its login portal's launch log, as files a city admin sends.

    POST /imports/school-figures   CSV or JSON → SchoolFiguresReported (one event per school unit and year)
    POST /imports/app-launches     a launch log CSV (app, school unit, day) → AppLaunchesCounted (one event per row)

Every row is checked before anything is published: one bad cell refuses the whole file, and the answer names the row
and column of every bad cell (``report.ImportErrors``). The same file imported twice publishes the same event ids, so
every consumer's inbox drops the second copy. The parsing is shared with devkit/city_cli.py; docs/figures.md says
where a city gets each figure; docs/decisions/0022 why the figures are typed.
"""
