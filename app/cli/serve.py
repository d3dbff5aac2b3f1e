"""`lantern serve`: the web dashboard and its API under uvicorn."""

import argparse
import logging

from app.cli._commands import add_command
from app.cli._options import Commands, add_device, settings_of
from app.errors import BadParameter
from app.zoo import get_spec

__all__ = ["register"]


def register(commands: Commands) -> None:
    parser = add_command(commands, "serve")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument("--model", help="model loaded at start-up (see `lantern models`)")
    parser.add_argument(
        "--insecure-public",
        action="store_true",
        help="serve a non-loopback --host without LANTERN_API_TOKEN (anyone reaching it can use"
        " it)",
    )
    add_device(parser)
    parser.set_defaults(run=_serve)


def _serve(args: argparse.Namespace) -> None:
    from app.main import serve  # the web stack only for this command

    settings = settings_of(args)
    if args.model:
        get_spec(args.model)  # an unknown name fails here, with suggestions, not in the server
        settings = settings.model_copy(update={"default_model": args.model})
    if args.insecure_public:
        settings = settings.model_copy(update={"insecure_public": True})
    if not 0 < args.port < 65536:
        raise BadParameter(f"--port: {args.port} is not a port number (1 to 65535)")
    print(f"Lantern: http://{args.host}:{args.port}/  (model {settings.default_model})")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    serve(settings, args.host, args.port)
