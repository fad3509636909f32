"""The machine a benchmark ran on, for its report.

Standard library only: bench/'s scripts import it, and so do bench/gpu's, on the GPU machine too.
"""

import platform


def cpu_model():
    """The CPU's model name: /proc/cpuinfo's first "model name", else platform.processor();
    None when neither says."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None
