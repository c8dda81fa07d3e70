"""The data-flow map: sources, feeds, holders, copies and onward edges."""
