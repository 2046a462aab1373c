"""A run: configuration, scheduling, generation, grading jobs and regrade."""
