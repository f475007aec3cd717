"""lstmfast: fast CPU LSTM and RNN under a NumPy-native API."""
