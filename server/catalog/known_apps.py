"""Well-known apps and everyday capabilities, so a request for one the catalog lacks is named plainly.

A catalog only knows the apps it has; people ask for the ones they use. These lists are checked
only against requests, and an entry the catalog covers (a toolkit's slug, name or alias, or a word
held by the tool the step found) never counts as missing, so a catalog that adds a Zoom toolkit or a
weather tool is not told it lacks them. Names that are also ordinary words ("box", "teams",
"signal") count only where people put app names (absence.py decides where that is).
"""

from __future__ import annotations

# display name: the spellings people use (lower case, words separated by spaces)
_APPS = {
    "Airbnb": "airbnb", "Airtable": "airtable", "Algolia": "algolia", "Amplitude": "amplitude",
    "Anthropic": "anthropic", "Apple Music": "apple music", "Apple Notes": "apple notes",
    "Asana": "asana", "Auth0": "auth0", "AWS": "aws|amazon web services|ec2|s3 bucket|lambda function",
    "Azure": "azure", "BambooHR": "bamboohr", "Basecamp": "basecamp", "BigQuery": "bigquery",
    "Bitbucket": "bitbucket", "Bluesky": "bluesky", "Booking.com": "booking.com", "Box": "box",
    "Braintree": "braintree", "Brevo": "brevo|sendinblue", "Brex": "brex", "Buffer": "buffer",
    "Calendly": "calendly", "Canva": "canva", "ChatGPT": "chatgpt|openai|dall-e|dalle",
    "CircleCI": "circleci", "ClickUp": "clickup", "Clockify": "clockify", "Cloudflare": "cloudflare",
    "Coda": "coda", "Coinbase": "coinbase", "Confluence": "confluence", "Constant Contact": "constant contact",
    "Coursera": "coursera", "Datadog": "datadog", "DigitalOcean": "digitalocean", "Docker Hub": "docker hub",
    "DocuSign": "docusign", "DoorDash": "doordash", "Dropbox": "dropbox", "eBay": "ebay",
    "Eventbrite": "eventbrite", "Evernote": "evernote", "Expedia": "expedia", "Expensify": "expensify",
    "Facebook": "facebook|fb", "Figma": "figma", "Freshdesk": "freshdesk", "FreshBooks": "freshbooks",
    "Front": "front", "GitLab": "gitlab", "Gong": "gong", "GoDaddy": "godaddy",
    "Google Ads": "google ads|adwords", "Google Analytics": "google analytics|ga4",
    "Google Docs": "google docs|google doc", "Google Forms": "google forms|google form",
    "Google Keep": "google keep", "Google Maps": "google maps", "Google Meet": "google meet",
    "Google Photos": "google photos", "Google Slides": "google slides", "Google Tasks": "google tasks",
    "Grafana": "grafana", "Greenhouse": "greenhouse", "Gusto": "gusto", "Harvest": "harvest",
    "Heroku": "heroku", "Help Scout": "help scout|helpscout", "Hotjar": "hotjar", "iCloud": "icloud",
    "iMessage": "imessage", "Instagram": "instagram|insta", "Intercom": "intercom", "Jenkins": "jenkins",
    "Kayak": "kayak", "Klaviyo": "klaviyo", "Kubernetes": "kubernetes|k8s|kubectl", "LastPass": "lastpass",
    "Lever": "lever", "LinkedIn": "linkedin", "Loom": "loom", "Lyft": "lyft", "Mailchimp": "mailchimp",
    "Mailgun": "mailgun", "Marketo": "marketo", "Mastodon": "mastodon", "Medium": "medium",
    "Microsoft Teams": "microsoft teams|ms teams|teams", "Miro": "miro", "Mixpanel": "mixpanel",
    "Monday.com": "monday.com|monday", "MongoDB": "mongodb|mongo", "MySQL": "mysql", "Netflix": "netflix",
    "Netlify": "netlify", "New Relic": "new relic", "Obsidian": "obsidian", "Okta": "okta",
    "OneDrive": "onedrive", "OneNote": "onenote", "1Password": "1password", "OpenTable": "opentable",
    "Opsgenie": "opsgenie", "Otter": "otter.ai", "PagerDuty": "pagerduty", "PayPal": "paypal",
    "Pinterest": "pinterest", "Pipedrive": "pipedrive", "Pocket": "pocket", "PostgreSQL": "postgres|postgresql",
    "Postmark": "postmark", "QuickBooks": "quickbooks", "Ramp": "ramp", "Reddit": "reddit",
    "Redis": "redis", "Revolut": "revolut", "Rippling": "rippling", "Robinhood": "robinhood",
    "Salesforce": "salesforce|sfdc", "SendGrid": "sendgrid", "Sentry": "sentry", "ServiceNow": "servicenow",
    "SharePoint": "sharepoint", "Shopify": "shopify", "Signal": "signal", "Skype": "skype",
    "Smartsheet": "smartsheet", "Snapchat": "snapchat", "Snowflake": "snowflake", "Spotify": "spotify",
    "Square": "square", "Squarespace": "squarespace", "Strava": "strava", "Stripe": "stripe",
    "Substack": "substack", "SurveyMonkey": "surveymonkey", "Telegram": "telegram", "Terraform": "terraform",
    "TickTick": "ticktick", "TikTok": "tiktok", "Todoist": "todoist", "Toggl": "toggl", "Trello": "trello",
    "TripAdvisor": "tripadvisor", "Twilio": "twilio", "Twitch": "twitch",
    "Twitter": "twitter|tweet|tweets|retweet|tweeting", "Typeform": "typeform", "Uber": "uber|uber eats",
    "Venmo": "venmo", "Vercel": "vercel", "Vimeo": "vimeo", "Webex": "webex", "Webflow": "webflow",
    "WeChat": "wechat", "WhatsApp": "whatsapp", "Wix": "wix", "WooCommerce": "woocommerce",
    "WordPress": "wordpress", "Workday": "workday", "Wrike": "wrike", "X": "x", "Xero": "xero",
    "Yelp": "yelp", "YouTube": "youtube|yt", "Zapier": "zapier", "Zendesk": "zendesk", "Zoho": "zoho|zoho crm",
    "Zoom": "zoom", "Render": "render", "SoundCloud": "soundcloud", "Deezer": "deezer", "Tidal": "tidal",
    "Alexa": "alexa", "Philips Hue": "philips hue|hue lights", "Nest": "nest thermostat",
}
APPS: dict[tuple[str, ...], str] = {
    tuple(spelling.split()): name for name, spellings in _APPS.items() for spelling in spellings.split("|")
}
# Spellings that are also ordinary English words: an app only where an app name stands.
AMBIGUOUS = frozenset(
    {
        "box", "teams", "signal", "front", "ramp", "square", "harvest", "lever", "medium", "pocket",
        "coda", "loom", "render", "tidal", "gong", "monday", "zoom", "buffer", "x", "lambda", "mongo", "otter", "fb",
        "insta", "yt", "nest", "lambda function", "hue lights", "alexa",
    }
)
# Spellings that are the app's own verb or thing: an app only as the step's verb or its object.
APP_VERBS = frozenset({"tweet", "tweets", "retweet", "tweeting"})
# What people ask an assistant for that lives outside any app of a tool catalog. A step counts as
# unavailable when one of these is its subject and no tool found for it holds the word.
_CAPABILITIES = """
weather forecast temperature rain snow sunny flight flights airline airfare nonstop layover
hotel hotels airbnb taxi ride rides
stock stocks shares share-price trading portfolio crypto bitcoin pizza sushi burger groceries grocery delivery takeout
restaurant recipe music song songs playlist podcast radio alarm timer lights light thermostat
lock unlock door garage vacuum printer print screenshot webcam camera photo photos image images
picture drawing gif audio video videos transcribe transcript voice memo dictate sms translate translation
bank balance transfer package parcel shipment fedex ups dhl usps traffic commute
directions map maps route horoscope lottery movie movies tickets concert
"""
CAPABILITIES = frozenset(_CAPABILITIES.split())
