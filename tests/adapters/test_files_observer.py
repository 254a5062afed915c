

def test_gnu_find_and_the_python_walk_list_the_same_files(tmp_path, monkeypatch) -> None:
    import os

    from setpoint.adapters import files

    base = tmp_path / "data"
    for rel in ("2024-03-01/501.csv", "2024-03-01/ü 5 \"q\".csv", "2024-03-02/deep/x.csv", "top.csv"):
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
        os.utime(path, (1_700_000_000.5, 1_700_000_000.5))
    (base / "link.csv").symlink_to(base / "top.csv")
    (base / "dirlink").symlink_to(base / "2024-03-01")
    fast = sorted(files.listing(base))
    monkeypatch.setattr(files, "_gnu_find", lambda: False)
    slow = sorted(files.listing(base))
    assert [p for p, _ in fast] == [p for p, _ in slow] == [
        "2024-03-01/501.csv", "2024-03-01/ü 5 \"q\".csv", "2024-03-02/deep/x.csv", "link.csv", "top.csv"]
    assert all(abs(a[1] - b[1]) < 1e-3 for a, b in zip(fast, slow) if a[0] != "link.csv")
