"""dtks pipeline: stages, domain transforms and runtime."""
