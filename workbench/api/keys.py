"""The application keys handlers find the engine under."""

from aiohttp import web

from ..engine import Engine

ENGINE = web.AppKey("engine", Engine)
