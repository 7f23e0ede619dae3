"""emoshift: speech emotion recognition across corpora.

Train on labelled speech from one setting, work in another where labels are few or
absent: domain-adaptation methods, their baselines, protocols and reports.
"""

__version__ = "0.1.0"
