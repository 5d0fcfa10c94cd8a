"""CityLoop casefile service — 案卷建立: acceptance, verification, registration and its ends."""
