from sivug.cli import app

app(prog_name="sivug")
