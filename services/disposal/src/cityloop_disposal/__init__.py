"""CityLoop disposal service — 任务处理 + 处理反馈: department work and feedback."""
