"""The Teams app package: manifest template, icons and the builder behind `concerns-bot manifest build`."""
