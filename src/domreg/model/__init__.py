"""Pure registry rules: names, statuses, periods, result codes. No I/O, imports nothing of ours."""
