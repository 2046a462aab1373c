"""The checklist grader's static checks, one module per concern of the seed's checklist.

Each check is a function `Candidate -> Outcome`; `harness/graders/checklist.py` lists them with
their severity and the seed items they decide. `source` parses a candidate once and
answers the questions several checks share (which functions are route handlers, which
classes are Pydantic schemas, what a name was imported as).
"""
