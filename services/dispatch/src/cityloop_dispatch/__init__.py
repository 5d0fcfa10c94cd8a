"""CityLoop dispatch service — 任务派遣: dispatch, approvals, the clock and supervision."""
