"""Reference solutions of the labs: what ``dsys lab test LAB --reference`` grades.

Each module solves one lab and must earn every point of that lab's grader (the library's
tests check it). Try the lab yourself before you read one: the point of a lab is the
struggle with the bugs that the grader finds.
"""
