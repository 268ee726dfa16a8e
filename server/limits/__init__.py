"""What one caller may send and how often: body size, JSON depth, argument size, request rates."""
