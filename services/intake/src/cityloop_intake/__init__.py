"""CityLoop intake service — 信息采集: reports from supervisors, video, the public and leaders."""
