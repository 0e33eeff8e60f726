"""The plugin's ``swansphere hello`` command and ``swansphere bench echo`` target."""


def register(subparsers) -> None:
    parser = subparsers.add_parser("hello", help="greet (extensions plugin)")
    parser.add_argument("--name", default="world")
    parser.set_defaults(func=_hello)


def _hello(args, registry) -> int:
    codecs = len(registry.names("codec"))
    print(f"hello, {args.name}: {codecs} codecs registered")
    return 0


def add_echo_target(targets) -> None:
    parser = targets.add_parser("echo", help="print a one-row table (extensions plugin)")
    parser.add_argument("value")
    parser.set_defaults(func=_echo)


def _echo(args, registry) -> int:
    print(f"TARGET  VALUE\necho    {args.value}")
    return 0
