// placeholder: replaced by the preprocess implementation
