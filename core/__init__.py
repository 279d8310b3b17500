"""What every layer shares and no layer owns: the settings, the process environment, the Chinese text grammar."""
