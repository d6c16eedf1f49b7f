"""Daily cost watch: Cost Explorer figures for the dashboards, the cost metrics and the budget finding."""
