"""CityLoop evaluation service — 综合评价: indicators per the evaluation standard."""
