"""Support code for the course "Gradient descent from the blind hiker to Adam".

Everything here is safe to hand to students except :mod:`course.reference`, which holds the
reference solutions of the exercises.
"""

__version__ = "0.1.0"
