import jot


def test_version() -> None:
    assert jot.__version__.count(".") == 2
