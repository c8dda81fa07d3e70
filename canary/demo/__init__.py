"""The end-to-end demo: everything on loopback, with a simulated Twilio and a local receiver."""
