"""What the tests share: paths, landing-zone writers, inline silver frames, the crash and personal-data harnesses."""
