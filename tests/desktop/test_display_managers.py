"""The shipped display-manager and screen-locker PAM files are Debian 12's
own, with the two Freddy lines before "@include common-auth".

GDM (gnome-shell, logind, accountsservice) and SDDM (it starts its own X
server on a VT, and wants logind) cannot run on this machine, whose PID 1
is not systemd: for them this is what can be tested here, with the real
files from their Debian packages (tests/stages/80-desktop.sh fetches the
two .debs with apt-get download into its cache and unpacks their
/etc/pam.d into FREDDY_DEBIAN_PAM).  The files then run through libpam with
pamtester in tests/e2e/test_desktop.py.  LightDM and xscreensaver, which
run for real in this stage, are checked against the files their installed
packages put in /etc/pam.d.
"""

import os
import unittest

from e2e import EXAMPLES, require_sandbox
from freddytest import main

FREDDY_LINES = [
    "auth [success=ignore default=1] pam_succeed_if.so uid >= 1000 quiet",
    "auth [success=done ignore=ignore default=die] pam_freddy.so",
]


def stack(text):
    """The PAM lines of a file, blanks normalised, comments and empty
    lines left out."""
    return [" ".join(line.split()) for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def with_freddy(debian):
    out = []
    for line in stack(debian):
        if line == "@include common-auth":
            out.extend(FREDDY_LINES)
        out.append(line)
    return out


class ShippedFilesAreDebians(unittest.TestCase):

    def setUp(self):
        require_sandbox()

    def check(self, name, debian_path):
        with open(debian_path) as f:
            debian = f.read()
        with open(os.path.join(EXAMPLES, name)) as f:
            shipped = f.read()
        self.assertEqual(stack(debian).count("@include common-auth"), 1, debian_path)
        self.assertEqual(stack(shipped), with_freddy(debian),
                         "etc/pam.d/%s is not %s with the Freddy lines" % (name, debian_path))

    def debian_file(self, name):
        folder = os.environ.get("FREDDY_DEBIAN_PAM")
        if not folder:
            self.skipTest("FREDDY_DEBIAN_PAM is not set (tests/stages/80-desktop.sh sets it)")
        return os.path.join(folder, name)

    def test_gdm_password_is_debians(self):
        self.check("gdm-password", self.debian_file("gdm-password"))

    def test_sddm_is_debians(self):
        self.check("sddm", self.debian_file("sddm"))

    def test_lightdm_is_debians(self):
        self.check("lightdm", "/etc/pam.d/lightdm")

    def test_xscreensaver_is_debians(self):
        self.check("xscreensaver", "/etc/pam.d/xscreensaver")


if __name__ == "__main__":
    main()
