"""`python -m negrec` (e.g. under `accelerate launch -m negrec ...`): the negrec command."""

from negrec.cli import app

app(prog_name="negrec")
