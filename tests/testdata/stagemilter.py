#!/usr/bin/python3
"""A milter on Sendmail's libmilter (Debian's python3-milter) for tern's
tests of the milter stages: it refuses a sender at MAIL, a recipient at
RCPT, greylists another (451 the first time, accepted the next), and adds
headers naming the stages it saw and the client address it was told
for each message it accepts.

Usage: stagemilter.py SOCKET-PATH
"""
import os
import sys

import Milter

greylisted = set()  # (sender, recipient) pairs seen once


class StageMilter(Milter.Base):
    def __init__(self):
        self.stages = []
        self.sender = ""
        self.client = ""

    def connect(self, hostname, family, hostaddr):
        self.stages = ["connect"]
        self.client = hostaddr[0] if hostaddr else ""
        return Milter.CONTINUE

    def hello(self, heloname):
        self.stages.append("helo")
        return Milter.CONTINUE

    def envfrom(self, mailfrom, *params):
        self.stages = [s for s in self.stages if s in ("connect", "helo")]
        self.stages.append("mail")
        self.sender = mailfrom.lower()
        if "blocked@" in self.sender:
            self.setreply("550", "5.7.1", "sender blocked by the stage milter")
            return Milter.REJECT
        return Milter.CONTINUE

    def envrcpt(self, to, *params):
        rcpt = to.lower()
        if "nosuch@" in rcpt:
            self.setreply("550", "5.1.1", "no such user at the stage milter")
            return Milter.REJECT
        if "greylist" in rcpt and (self.sender, rcpt) not in greylisted:
            greylisted.add((self.sender, rcpt))
            self.setreply("451", "4.7.1", "greylisted, try again later")
            return Milter.TEMPFAIL
        self.stages.append("rcpt")
        return Milter.CONTINUE

    def eom(self):
        self.addheader("X-Milter-Stages", " ".join(self.stages))
        self.addheader("X-Milter-Client", self.client)
        return Milter.ACCEPT


def main():
    os.umask(0)  # smtpd runs as another user
    Milter.factory = StageMilter
    Milter.set_flags(Milter.ADDHDRS)
    Milter.runmilter("stagemilter", "unix:" + sys.argv[1], 60)


if __name__ == "__main__":
    main()
