"""The standing cast and the real parts every test suite may use.

alice owns things; bob is another user who must get 404 on every one of alice's ids.
Shared fixtures live in justtrades/testing/ and are registered here.
"""

pytest_plugins = [
    "justtrades.testing.fixtures",
    "justtrades.testing.tradovate",
    "justtrades.testing.discord",
    "justtrades.testing.browser",
]
