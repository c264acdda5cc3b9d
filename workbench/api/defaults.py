"""Where the Lambda API listens unless told (what the command line shows without importing the
server, whose imports — aiohttp — are most of a start)."""

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3001  # as `sam local start-lambda`
