"""Attribution: from events to a ranked verdict on who leaked, and incidents."""
