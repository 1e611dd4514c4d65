"""The lab framework: grading, points, mutants, starter-file export."""
