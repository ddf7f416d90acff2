// placeholder: replaced by the group-level implementation
