#!/usr/bin/env python3
"""A real SMTP server for the invite-notify-lettre tests (rule D5), on aiosmtpd.

Listens on 127.0.0.1:PORT (a free one when PORT is 0), prints "READY <port>" on stdout
once it accepts connections, and writes each message it receives to DIR as one JSON file
(recipients, subject, message id, and the decoded plain-text and HTML bodies). Recipients
at reject.example are refused with 550 (permanent), at busy.example with 451 (transient).
Runs until it is killed.

    python3 smtp_sink.py --port 0 --dir /tmp/mail
"""

import argparse
import email
import email.policy
import json
import os
import socket
import sys
import time

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, outdir):
        self.outdir = outdir
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        domain = address.rsplit("@", 1)[-1].lower()
        if domain == "reject.example":
            return "550 5.1.1 mailbox unavailable"
        if domain == "busy.example":
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "to": str(message.get("To", "")),
            "from": str(message.get("From", "")),
            "subject": str(message.get("Subject", "")),
            "message_id": str(message.get("Message-ID", "")),
            "text": text.get_content() if text is not None else "",
            "html": html.get_content() if html is not None else "",
        }
        self.count += 1
        name = f"{time.time_ns()}-{os.getpid()}-{self.count}"
        tmp = os.path.join(self.outdir, name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as out:
            json.dump(record, out)
        os.rename(tmp, os.path.join(self.outdir, name + ".json"))
        return "250 Message accepted for delivery"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--dir", required=True)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    port = args.port or free_port()
    controller = Controller(Handler(args.dir), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"READY {port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
