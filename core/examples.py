"""The API reference's example request, shown in the API docs and printed by `oliai up`."""

SEED_EXAMPLE = {
    "contacts": [
        {
            "name": "Priya Sharma",
            "phoneNumber": "+919876543210",
            "language": "hi-IN",
            "city": "Mumbai",
            "tier": "premium",
        },
        {
            "name": "Ravi Kumar",
            "phoneNumber": "+919123456789",
            "language": "en-IN",
            "city": "Delhi",
            "tier": "standard",
        },
    ],
    "audienceId": "aud_abc123",
    "webhookUrl": "https://your-app.com/webhooks/import-done",
}
