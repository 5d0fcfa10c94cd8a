"""CityLoop's web console (工作台): the desks of the loop's people in the browser, in front of
the services' own HTTP APIs."""
