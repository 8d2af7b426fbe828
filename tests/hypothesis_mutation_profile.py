"""A pytest plugin for mutation runs only: a small, repeatable hypothesis profile.

Mutation testing reruns the codec tests once per mutant; a hundred random examples per property
makes that hours. With ``-p tests.hypothesis_mutation_profile --hypothesis-profile=mutation``
(set in ``[tool.mutmut]``) every property runs 5 derandomised examples, so a mutant's verdict
does not depend on luck. Ordinary test runs do not load this module.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "mutation",
    max_examples=5,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
