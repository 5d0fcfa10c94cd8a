"""The desks (工作台) of the centre roles, the departments and the leaders."""
