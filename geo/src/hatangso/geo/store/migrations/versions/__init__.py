"""One module per migration, oldest first; never edit one that has shipped."""
