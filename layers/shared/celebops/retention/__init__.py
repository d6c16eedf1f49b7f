"""Log retention job: set CloudWatch Logs retention by log group name prefix.

`policy` reads and validates the configuration, `planner` decides per log group without AWS
calls, `enforcer` lists log groups and applies the decisions, `report` summarises the run.
"""
