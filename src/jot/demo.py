"""The `make run` demo (replaced by the authority server once it exists)."""

from __future__ import annotations


def main() -> None:
    print("jot demo: coming with the signing core")


if __name__ == "__main__":
    main()
