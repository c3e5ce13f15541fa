"""The scripted calls to the London Borough of Harrowden, as spoken.

Turn lines: ``A: ...`` (agent) or ``C: ...`` (caller), with options in brackets:
``C(pause=2): ...`` silence before, ``C(overlap=0.4): ...`` talks over the previous turn,
``A(hold=30): ...`` hold music first. Personal data: ``{{type:written value|as spoken}}``.
Labels: ``fails`` lists the QA checks the agent misses; id_check counts when the agent asks for
details identifying the caller or their account (name, address, date of birth, account number),
not a postcode to look up a street or a phone number for a call back.
Agents' own first names are not labelled as personal data; callers' and third parties' are.

Over 600 lines because it is data, not logic: one literal per call, kept together so the calls
read as a set.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Call:
    name: str
    at: str
    agent: str
    queue: str
    number: str
    reasons: list[str]
    avoidable: str | None
    dialogue: str = ""
    complaint: bool = False
    transferred: bool = False
    fails: tuple[str, ...] = ()
    repeat: bool = False
    layout: str = "agent_left"
    status: str = "ok"
    duration_s: float | None = None


MOBILE = "oh seven seven double oh, nine double oh"

CALLS = [
    Call(
        "ct_progress_chase",
        "09:14:05",
        "agent_sarah_k",
        "council_tax",
        "07700 900123",
        ["council_tax"],
        "progress_chasing",
        repeat=True,
        fails=("anything_else_offered",),
        dialogue="""
A: Good morning, you're through to Harrowden Council, my name is Sarah, how can I help?
C: Hi Sarah. I applied for the single person discount about three weeks ago, and I still haven't heard anything back. I'm just ringing to see where it's got to.
A: I'm sorry about the wait. Can I take your name and the first line of your address, please?
C: It's {{person_name:Margaret Okafor}}, {{address:14 Kestrel Road|fourteen Kestrel Road}}, Aldgrove.
A: And the postcode, please?
C: {{postcode:HW4 7QZ|H W four, seven Q Z}}.
A: Thank you. And do you have your council tax account number?
C: Yes, it's {{account_reference:50012345|five oh oh one, two three four five}}.
A: Lovely, that all matches. I can see your application came in on the tenth of March. It's with the team and it's in the queue. They're working on applications from about the fifth at the moment.
C: So how much longer is it going to be? I've rung twice already.
A: It should be done within the next week or so, and you'll get a new bill in the post once it's applied.
C: Right. Well, I'll wait for the letter then.
A: Okay, thanks for calling Harrowden Council. Goodbye.
C(pause=0.4): Bye.
""",
    ),
    Call(
        "ct_direct_debit",
        "10:02:40",
        "agent_tom_b",
        "council_tax",
        "+44 7700 900456",
        ["council_tax"],
        None,
        dialogue="""
A: Good morning, Harrowden Council, you're speaking to Tom. How can I help you today?
C: Hello, I'd like to set up a direct debit for my council tax, please. I keep forgetting to pay it.
A: No problem at all, I can do that for you now. Can I start with your full name?
C: It's {{person_name:Daniel Whitfield}}.
A: Thank you, {{person_name:Daniel}}. For security, can you confirm your address and postcode?
C: {{address:Flat 3, Bramley Court|Flat three, Bramley Court}}, Northcote Green, {{postcode:HW2 5LT|H W two, five L T}}.
A: Thanks, that's all correct. Which date would you like the payments to come out, the first or the fifteenth of the month?
C: The fifteenth, please.
A: And can I take the sort code and the account number?
C: The sort code is {{bank_account:204060|twenty, forty, sixty}}, and the account number is {{bank_account:31926819|three one nine two, six eight one nine}}.
A: Let me read that back. Sort code {{bank_account:204060|twenty, forty, sixty}}, account number {{bank_account:31926819|three one nine two, six eight one nine}}.
C(overlap=0.4): Yes, that's right.
A: Perfect. The direct debit will start on the fifteenth of April, and you'll get a confirmation letter within ten days. Is there anything else I can help you with?
C: No, that's everything, thanks.
A: You're welcome. Thank you for calling, have a lovely day. Goodbye.
""",
    ),
    Call(
        "ct_bill_clarification",
        "11:20:10",
        "agent_priya_s",
        "council_tax",
        "020 7946 0321",
        ["council_tax"],
        "clarification",
        fails=("greeting", "agent_named"),
        dialogue="""
A: Council tax.
C(pause=1.5): Oh, hello. Um, I've got my new bill for this year and I don't understand it. It's gone up, and there's a line that says adjustment, and I don't know what that is.
A: Can I have the account number?
C: It's {{account_reference:50078812|five double oh seven, double eight one two}}.
A: And your name and postcode?
C: {{person_name:Gloria Mensah}}, {{postcode:HW7 2DN|H W seven, two D N}}.
A: Right. So the adjustment is the credit from last year. You overpaid by forty pounds, so we took it off this year's bill. The increase is the new rate from April. It's gone up by four point nine nine percent across the borough.
C: Oh, I see. So I don't owe anything extra?
A: No. The ten monthly amounts on the bill are correct. It explains it on the back of the bill, and on our website as well.
C: Okay, that makes sense now. I just couldn't work it out.
A: Is there anything else I can help with?
C: No, that's it.
A: Thanks for calling. Bye bye.
""",
    ),
    Call(
        "ct_callback_never_came",
        "14:35:00",
        "agent_dave_m",
        "council_tax",
        "0044 7700 900789",
        ["council_tax"],
        "repeat_contact",
        repeat=True,
        dialogue="""
A: Good afternoon, Harrowden Council, Dave speaking, how can I help?
C: Hi, yes. I rang last week about a summons I got for my council tax, and I was told someone would call me back within forty eight hours. Nobody has, so I'm having to ring again.
A: I'm sorry about that. Let me have a look. Can I take your account number?
C: It's {{account_reference:50134467|five oh one three, four four six seven}}.
A: And your full name and date of birth, please?
C: {{person_name:Kevin Doyle}}, {{date_of_birth:1979-11-02|second of November, nineteen seventy nine}}.
A: Thank you, {{person_name:Mr Doyle}}. I can see the note from last week. The call back request was sent, but it looks like it wasn't picked up. I'm sorry. I can deal with it now. The summons was issued because the February payment was missed.
C: I paid it, it was just late. I paid it on the twentieth.
A: Yes, I can see that payment now. So the summons costs will be taken off, and you don't need to go to court. I'll put a note on the account.
C(overlap=0.3): Oh, that's a relief. Thank you.
A: Is there anything else I can help you with today?
C: No, that's all.
A: Thanks for your patience, {{person_name:Mr Doyle}}. Goodbye.
""",
    ),
    Call(
        "ben_new_claim",
        "09:41:30",
        "agent_priya_s",
        "benefits",
        "07700900612",
        ["benefits"],
        None,
        dialogue=f"""
A: Good morning, Harrowden Council, my name is Priya, how can I help?
C: Hello. I've just lost my job, and a friend said I might be able to get help with my council tax. I don't really know where to start.
A: I'm sorry to hear that. You can apply for council tax support, and I can take some details now to start the claim. Can I take your full name?
C: {{{{person_name:Aisha Rahman}}}}.
A: And your date of birth?
C: {{{{date_of_birth:1990-07-23|twenty third of July, nineteen ninety}}}}.
A: And your national insurance number?
C: It's {{{{ni_number:QQ123456C|Q Q, one two, three four, five six, C}}}}.
A: Thank you. Are you claiming universal credit at the moment?
C: I've applied. I'm waiting to hear back.
A: That's fine. I'll start the council tax support claim today, so it's backdated to when you lost your job. We'll send you a form to confirm your income. What's the best number to call you on?
C: {{{{phone_number:07700900612|{MOBILE}, six one two}}}}.
A: Great. You'll get a letter within five working days, and the decision usually takes about three weeks. Is there anything else I can help with?
C: No, that's really helpful, thank you.
A: You're welcome, take care. Goodbye.
""",
    ),
    Call(
        "ben_claim_chase",
        "13:05:12",
        "agent_sarah_k",
        "benefits",
        "(020) 7946 0415",
        ["benefits"],
        "progress_chasing",
        repeat=True,
        fails=("id_check",),
        dialogue="""
A: Good afternoon, Harrowden Council, Sarah speaking, how can I help?
C: Hi. I put in a housing benefit claim at the start of February, and I still haven't had a decision. My landlord's asking for the rent. The claim reference is {{account_reference:HB204551|H B two oh four, five five one}}.
A: Right, I can see it. It's waiting for your payslips. We wrote to you on the twelfth of February asking for them.
C: I sent those in. I uploaded them on the website the week after.
A: I can see something came in on the nineteenth. It's been matched to the claim now, so it's back in the queue for an assessor.
C: So how long will that take? This is the third time I've rung.
A: It should be decided within ten working days. You'll get a letter, and the first payment goes straight to your landlord if you asked for that.
C: Okay. Can you put a note on that I called?
A: Yes, I've added a note. Is there anything else I can help with?
C: No, thank you.
A: Thank you for calling, bye now.
""",
    ),
    Call(
        "ben_letter_clarification",
        "15:10:44",
        "agent_tom_b",
        "benefits",
        "+44 20 7946 0258",
        ["benefits"],
        "clarification",
        dialogue="""
A: Good afternoon, you're through to Harrowden Council, my name's Tom, how can I help you?
C: Hi Tom. I got a letter saying I've been overpaid housing benefit, and I don't understand why. It doesn't really explain anything.
A: I can go through it with you. For security, can you give me your full name, date of birth and the first line of your address?
C: {{person_name:Stefan Novak}}, {{date_of_birth:1985-01-09|ninth of January, nineteen eighty five}}, {{address:27 Pellow Street|twenty seven Pellow Street}}.
A: And your postcode?
C: {{postcode:HW3 8RB|H W three, eight R B}}.
A: Thank you, that's all fine. So the letter is because your hours at work went up in November, and the claim was still using your old wages. That means you were paid about a hundred and twenty pounds too much between November and January.
C: Right, so it's not a mistake, it's just catching up?
A: Exactly. You don't have to pay it all at once. It will come off your ongoing benefit at eleven pounds a week, unless you ask for something different.
C: Okay, that's fine. I just wanted to understand it.
A: Of course. Is there anything else I can help you with?
C: No, that's all, thanks.
A: Thank you for calling, have a good afternoon. Goodbye.
""",
    ),
    Call(
        "waste_missed_bin_complaint",
        "08:47:20",
        "agent_gemma_l",
        "waste_recycling",
        "07700 900204",
        ["waste_recycling"],
        "service_failure",
        complaint=True,
        repeat=True,
        dialogue="""
A: Good morning, Harrowden Council, my name is Gemma, how can I help?
C: Morning. I want to make a complaint. My recycling bin has been missed again. That's the third time this month, and I reported it last week as well.
A: I'm really sorry about that. Can I take your address and postcode, please?
C: {{address:41 Sallowfield Avenue|forty one Sallowfield Avenue}}, {{postcode:HW5 3PJ|H W five, three P J}}.
A: Thank you. And your name?
C: {{person_name:Graham Pike}}.
A: Thanks, {{person_name:Mr Pike}}. I can see the missed collection from last Wednesday. The crew have recorded the bin as not presented.
C(overlap=0.5): It was out! It was out at seven o'clock like always. This is ridiculous, it's the same crew every time.
A: I understand. I'll log a formal complaint about the crew, and book a return collection for tomorrow. I'm also adding your road to the supervisor's checks.
C: Fine. But I want someone to actually ring me back about the complaint.
A: You'll get a reply from the waste team within ten working days. Is there anything else I can help with today?
C: No.
A: Okay, thank you for calling, and sorry again. Goodbye.
""",
    ),
    Call(
        "waste_bulky_booking",
        "10:48:00",
        "agent_kwame_o",
        "waste_recycling",
        "+44 121 496 0877",
        ["waste_recycling"],
        None,
        dialogue="""
A: Good morning, Harrowden Council, Kwame speaking, how can I help?
C: Hello. I need to get rid of an old sofa and a fridge. Can the council collect them?
A: Yes, we can book a bulky waste collection. It's thirty pounds for up to three items. Can I take your name and address?
C: {{person_name:Brenda Holloway}}, {{address:8 Linnet Way|eight Linnet Way}}, Fenwick Vale, {{postcode:HW6 1EX|H W six, one E X}}.
A: Thank you. The next collection for Linnet Way is Thursday the third of April. Does that work for you?
C: Yes, that's fine.
A: Great. The payment has to be made by card. Can I take the long number on the front?
C: It's {{payment_card:4111111111111111|four one one one, one one one one, one one one one, one one one one}}.
A: And the expiry date?
C: Oh nine, twenty seven.
A: Thank you, that's gone through. Can I have an email address for the confirmation?
C: It's {{email:b.holloway@example.com|B dot holloway at example dot com}}.
A: Lovely. Please leave the items outside your property by seven in the morning. Is there anything else I can help with?
C: No, that's great, thanks.
A: Thanks for calling, goodbye.
""",
    ),
    Call(
        "waste_collection_day",
        "11:55:30",
        "agent_lucy_h",
        "waste_recycling",
        "07700 900377",
        ["waste_recycling"],
        "self_serve_available",
        fails=("agent_named", "id_check"),
        dialogue="""
A: Hello, Harrowden Council, how can I help?
C: Hi, I've just moved in, and I don't know what day my bins go out.
A: What's the postcode?
C: {{postcode:HW1 4SU|H W one, four S U}}.
A: Okay, that's Ravensbury Close. Your general waste goes every other Tuesday, and recycling on the Tuesdays in between. So this week is recycling.
C: And the food waste?
A: Food waste is every Tuesday. You can also check your days on our website with the bin day finder, and sign up for reminders by email.
C: Oh, I didn't know that. I'll have a look.
A: Is there anything else I can help you with?
C: No, that's it, thanks.
A: Thanks for calling. Bye.
""",
    ),
    Call(
        "parking_carer_permit",
        "09:58:15",
        "agent_lucy_h",
        "parking",
        "020 7946 0733",
        ["parking"],
        None,
        dialogue="""
A: Good morning, Harrowden Council, my name is Lucy, how can I help?
C: Hi. My mum has a carer who visits every day, and the carer keeps getting tickets outside the house. Is there a permit for carers?
A: Yes, there's a carer's permit. It's free for people who get care at home. Can I take your mum's name and address?
C: It's {{person_name:Iris Campbell}}, {{address:62 Tanner's Lane|sixty two Tanner's Lane}}, Stanmoor, {{postcode:HW8 6GA|H W eight, six G A}}.
A: And your name, please?
C: I'm her son, {{person_name:Neil Campbell}}.
A: Thank you. We'll need a letter from the care provider. I'll email you the form. What's your email address?
C: It's {{email:neil.campbell77@gmail.com|neil dot campbell seven seven at gmail dot com}}.
A: Thank you. Once we get the form back with the letter, the permit is usually sent out within five working days.
C: Brilliant. And can the carer use a visitor permit until then?
A: Yes, you can buy visitor permits online in the meantime. Is there anything else I can help with?
C: No, that's great.
A: Thanks for calling, have a good day. Goodbye.
""",
    ),
    Call(
        "parking_to_highways_transfer",
        "12:10:05",
        "agent_gemma_l",
        "parking",
        "02079460877",
        ["highways"],
        "wrong_routing",
        transferred=True,
        fails=("id_check",),
        dialogue="""
A: Good afternoon, Harrowden Council parking services, Gemma speaking, how can I help?
C: Hi. I've hit a massive pothole on Coldharbour Parade, and it's damaged my tyre. I want to claim for it.
A: Ah, I'm sorry, that's not parking, that's highways. You've come through to the parking line.
C: Oh. I just pressed the option for roads and cars.
A: That's okay. Before I put you through, can I take a number in case we get cut off?
C: Yes, it's {{phone_number:02079460877|oh two oh, seven nine four six, oh eight seven seven}}.
A: Thank you. I'm going to transfer you to the highways team now. They'll take the details of the pothole and send you the claim form. Is there anything else before I do?
C: No, that's all.
A: Okay, transferring you now. Thanks for calling, bye.
""",
    ),
    Call(
        "parking_pcn_complaint",
        "14:02:33",
        "agent_lucy_h",
        "parking",
        "withheld",
        ["parking"],
        None,
        complaint=True,
        fails=("anything_else_offered", "closing"),
        dialogue="""
A: Good afternoon, Harrowden Council, Lucy speaking, how can I help?
C: Yeah, I've got a parking ticket outside my own house on Orchard Rise, and it's a joke. The signs are covered by a tree. I want to complain about the warden.
A: I'm sorry to hear that. Have you got the penalty charge notice number?
C: It's {{account_reference:HW12345678|H W one two three four, five six seven eight}}.
A: Thank you. And your name and postcode?
C: {{person_name:Tyrone Baptiste}}, {{postcode:HW9 2NL|H W nine, two N L}}.
A: Right. You can make a formal challenge online or by post, and include photos of the sign. The charge is frozen at the lower amount while we look at it.
C: I shouldn't have to do all that. Your wardens are just out to make money. I'm putting in a complaint about this as well.
A: I'll log your complaint about the warden and the signs. Someone from parking services will reply within ten working days.
C(overlap=0.6): Whatever. I'm not paying it.
""",
    ),
    Call(
        "repairs_leak",
        "08:36:50",
        "agent_raj_p",
        "housing_repairs",
        "07700 900275",
        ["housing_repairs"],
        None,
        dialogue=f"""
A: Good morning, Harrowden Council repairs, my name's Raj, how can I help?
C: Hello, there's water coming through my kitchen ceiling from the flat upstairs. It's dripping onto the floor.
A: Okay. Is it near any lights or electrics?
C: No, it's by the window.
A: Good. Can I take your name and address?
C: {{{{person_name:Joyce Adebayo}}}}, {{{{address:Flat 12, Ravensbury Close|flat twelve, Ravensbury Close}}}}, {{{{postcode:HW1 4SP|H W one, four S P}}}}.
A: Thank you, {{{{person_name:Miss Adebayo}}}}. I'm raising an emergency repair. A plumber will be with you within four hours to find the leak and make it safe. What's the best number to reach you?
C: {{{{phone_number:07700900275|{MOBILE}, two seven five}}}}.
A: Thank you. Put a bucket under it, and keep the electrics off in that area if it gets worse. Is there anything else I can help with?
C: No, that's all. Thank you so much.
A: You're welcome. Thanks for calling, goodbye.
""",
    ),
    Call(
        "repairs_no_show_complaint",
        "11:02:00",
        "agent_ellen_w",
        "housing_repairs",
        "+447700900348",
        ["housing_repairs"],
        "service_failure",
        complaint=True,
        repeat=True,
        fails=("anything_else_offered",),
        dialogue=f"""
A: Good morning, Harrowden Council, Ellen speaking, how can I help?
C: I took a day off work yesterday for the repair to my boiler, and nobody turned up. Nobody rang, nothing. I want to make a formal complaint.
A: I'm very sorry. Can I take your tenancy reference?
C: It's {{{{account_reference:T40918|T four oh nine one eight}}}}.
A: And can you confirm your name and address?
C: {{{{person_name:Samuel Osei}}}}, {{{{address:19 Orchard Rise|nineteen Orchard Rise}}}}.
A: Thank you, {{{{person_name:Mr Osei}}}}. I can see the appointment was for yesterday. The contractor has marked it as no access.
C: That's not true. I was in all day. I've been waiting three weeks for this boiler, and I've got two kids with no hot water.
A: I understand, that's not acceptable. I'm logging a formal complaint, and I'm booking the first appointment for tomorrow morning, between eight and twelve. I'll also ask the contractor to call you when they're on the way. What's your mobile number?
C: {{{{phone_number:07700900348|{MOBILE}, three four eight}}}}.
A: Thank you. You'll get a text to confirm. The complaints team will be in touch within ten working days.
C: Fine. Let's hope someone actually turns up this time.
A: Thanks for calling, {{{{person_name:Mr Osei}}}}. Goodbye.
""",
    ),
    Call(
        "housing_register_chase",
        "15:47:09",
        "agent_mark_t",
        "housing_options",
        "07700 900419",
        ["housing_options"],
        "progress_chasing",
        repeat=True,
        dialogue="""
A: Good afternoon, Harrowden Council housing, Mark speaking, how can I help you?
C: Hi, I'm chasing my housing register application. I sent everything in two months ago, and I've still not got a band.
A: I'll have a look. Can I have your application number?
C: {{account_reference:HR2025118|H R two oh two five, one one eight}}.
A: And your date of birth, please?
C: {{date_of_birth:1996-04-30|thirtieth of April, nineteen ninety six}}.
A: Thank you. Your application is complete, and it's waiting for an officer to assess it. They're currently working on applications from the middle of January.
C: So why did someone tell me last time it would be done in six weeks?
A: I'm sorry, there's been a backlog since the new year. I'll add a note that you've called, and you'll get a letter with your band as soon as it's assessed.
C: Okay. Thanks, I suppose.
A: Is there anything else I can help with today?
C: No.
A: Thank you for calling, goodbye.
""",
    ),
    Call(
        "housing_options_eviction",
        "10:30:00",
        "agent_ellen_w",
        "housing_options",
        "07700 900561",
        ["housing_options"],
        None,
        transferred=True,
        fails=("anything_else_offered",),
        dialogue=f"""
A: Good morning, Harrowden Council housing, you're speaking to Ellen. How can I help?
C: Hi. My landlord has given me a section twenty one notice, and I have to leave by the end of April. I've got two children, and I don't know where we're going to go.
A: I'm sorry, that must be really worrying. You've done the right thing calling us early. Can I take your full name?
C: {{{{person_name:Chloe Bennett}}}}.
A: And your date of birth?
C: {{{{date_of_birth:1992-12-05|fifth of December, nineteen ninety two}}}}.
A: Thank you. What's your current address?
C: {{{{address:5 Coldharbour Parade|five Coldharbour Parade}}}}, Harrowden, {{{{postcode:HW2 9QA|H W two, nine Q A}}}}.
A: Thank you. I'm going to put you through to the housing options duty officer, who can start a homelessness prevention assessment with you today. In case we get cut off, what's your phone number?
C: {{{{phone_number:07700900561|{MOBILE}, five six one}}}}.
A: And an email address, so they can send you the forms?
C: {{{{email:chloeb92@hotmail.co.uk|chloe b nine two at hotmail dot co dot uk}}}}.
A: Thank you. Please don't leave the property before the notice date. Thank you for calling, I'm transferring you to the duty officer now, please hold.
C: Okay, thank you.
""",
    ),
    Call(
        "planning_comment",
        "13:40:00",
        "agent_chris_l",
        "planning",
        "(020) 7946 0642",
        ["planning"],
        None,
        fails=("id_check",),
        dialogue="""
A: Good afternoon, Harrowden Council, my name's Chris, how can I help?
C: Hello. My neighbour has put in for a big extension at the back, and I want to object to it. How do I do that?
A: You can comment on any planning application. Do you know the address of the application?
C: It's {{address:10 Kestrel Road|ten Kestrel Road}}, I'm next door.
A: I've found it. The reference is H W slash two five slash oh four one two. The consultation closes on the fourteenth of April, so you've got two weeks.
C: Can I just tell you my objection now?
A: I can't take it over the phone, I'm afraid. It needs to be in writing, so the case officer can consider it. You can use the comment form on the planning pages, or email the planning team. Comments have to include your name and address.
C: Okay, I'll email it. What's the address?
A: It's planning at harrowden dot gov dot uk. Put the reference in the subject line.
C: Great. Thanks for your help.
A: No problem. Is there anything else I can help with?
C: No, thank you.
A: Thanks for calling, bye.
""",
    ),
    Call(
        "planning_status_portal",
        "16:20:30",
        "agent_joe_f",
        "planning",
        "0161 496 0555",
        ["planning"],
        "self_serve_available",
        fails=("id_check",),
        dialogue="""
A: Good afternoon, Harrowden Council, Joe speaking, how can I help?
C: Hi. I put in a planning application for a loft conversion a few weeks ago, and I want to know if it's been decided yet.
A: Have you got the application reference?
C: Yes, H W slash two five slash oh three eight eight.
A: Thanks. It's still with the case officer, and the target date is the eighteenth of April. You can track it yourself on the planning portal on our website. It shows every document, and the decision as soon as it's made.
C: Oh right, I didn't know I could see that online.
A: Yes, just search for the reference number. You can also sign up for email updates.
C: That's handy. I'll do that.
A: Is there anything else I can help you with?
C: No, thanks.
A: Thanks for calling Harrowden Council. Goodbye.
""",
    ),
    Call(
        "school_in_year_transfer",
        "09:25:00",
        "agent_fiona_c",
        "school_admissions",
        "07700 900828",
        ["school_admissions"],
        None,
        dialogue="""
A: Good morning, Harrowden Council, my name is Fiona, how can I help?
C: Hi. We're moving into the borough next month, and I need to find a primary school place for my son.
A: Congratulations on the move. That's an in-year application. Can I take your name?
C: {{person_name:Rebecca Hughes}}.
A: And your son's name and date of birth?
C: {{person_name:Oliver Hughes}}, {{date_of_birth:2018-06-17|seventeenth of June, twenty eighteen}}.
A: And the address you're moving to?
C: {{address:33 Sallowfield Avenue|thirty three Sallowfield Avenue}}, {{postcode:HW5 3PL|H W five, three P L}}.
A: Thank you. The nearest schools with year two places are Stanmoor Primary and Fenwick Vale Primary. I'll email you the in-year form. What's your email address?
C: {{email:rebecca.hughes@example.org|rebecca dot hughes at example dot org}}.
A: Thank you. Send it back with proof of the new address, like a tenancy agreement, and we'll offer a place within ten school days.
C: Perfect, thank you.
A: Is there anything else I can help with?
C: No, that's everything.
A: Thanks for calling, goodbye.
""",
    ),
    Call(
        "schools_to_childrens_transfer",
        "14:50:00",
        "agent_sam_d",
        "school_admissions",
        "",
        ["children_services"],
        "wrong_routing",
        transferred=True,
        fails=("id_check", "anything_else_offered"),
        dialogue="""
A: Good afternoon, school admissions, you're speaking to Sam, how can I help?
C: Hello. I'm not sure if I've got the right department. I'm worried about a child next door. He's always on his own, and I heard a lot of shouting last night.
A: Thank you for calling about that. That needs to go to the children's services front door team, not admissions. I'm going to transfer you to them now. They deal with concerns about children's safety.
C: Okay. Do I have to give my name?
A: You can stay anonymous if you want to. If you think a child is in immediate danger, always call nine nine nine.
C: No, I don't think it's that. I just want someone to check.
A: That's fine. I'm putting you through now. Thank you for calling.
C: Thank you.
""",
    ),
    Call(
        "libraries_renewal",
        "16:05:00",
        "agent_anna_r",
        "libraries",
        "020 7946 0190",
        ["libraries"],
        "self_serve_available",
        dialogue="""
A: Good afternoon, Harrowden Council, Anna speaking, how can I help?
C: Hi. I've got three library books that are due back tomorrow, and I can't get to Aldgrove library this week. Can I renew them?
A: Of course. What's your library card number?
C: It's {{account_reference:2200145678|two two oh oh, one four five, six seven eight}}.
A: Thank you. I've renewed all three, and they're now due on the twenty eighth of April. You can renew them yourself online or in the library app next time. It just needs your card number and PIN.
C: Oh, I never remember the PIN.
A: You can reset it on the website too. Is there anything else I can help with?
C: No, that's lovely, thanks.
A: Thanks for calling, bye bye.
""",
    ),
    Call(
        "asc_assessment",
        "10:15:30",
        "agent_fiona_c",
        "adult_social_care",
        "020 7946 0149",
        ["adult_social_care"],
        None,
        dialogue="""
A: Good morning, Harrowden Council, my name's Fiona, how can I help?
C: Hello. I'm calling about my dad. He's eighty six, he lives on his own, and he had a fall last week. I don't think he's coping any more.
A: I'm sorry to hear that. We can arrange a care needs assessment. Can I take his name and date of birth?
C: {{person_name:Arthur Lindqvist}}, {{date_of_birth:1938-10-11|eleventh of October, nineteen thirty eight}}.
A: And his address?
C: {{address:2 Bramley Court|two Bramley Court}}, Northcote Green, {{postcode:HW2 5LU|H W two, five L U}}.
A: Thank you. Does he know you're calling, and is he happy for us to contact him?
C: Yes, he asked me to ring.
A: Good. And what's your name, and the best number for you?
C: I'm {{person_name:Helen Lindqvist}}, on {{phone_number:02079460149|oh two oh, seven nine four six, oh one four nine}}.
A: Thank you, {{person_name:Helen}}. I've made a referral to the adult social care team, and a social worker will call within five working days. In the meantime, I can send you information about a personal alarm, which he can get straight away.
C: Yes please, that would be good.
A: I'll post it today. Is there anything else I can help with?
C: No, thank you for your help.
A: You're welcome. Take care, goodbye.
""",
    ),
    Call(
        "asc_long_carer_complaint",
        "09:02:00",
        "agent_sam_d",
        "adult_social_care",
        "07700 900950",
        ["adult_social_care"],
        None,
        complaint=True,
        repeat=True,
        dialogue=f"""
A: Good morning, Harrowden Council adult social care, my name is Sam, how can I help you?
C: Good morning. I'm calling about my mother's home care. I've called before about this, and I'm afraid I want to make a formal complaint now, because it's just not getting any better.
A: I'm sorry to hear that. I'll do everything I can to help today. Can I start by taking your name?
C: Yes, it's {{{{person_name:Deborah Fairweather}}}}.
A: Thank you, {{{{person_name:Deborah}}}}. And your mother's full name?
C: {{{{person_name:Edith Fairweather}}}}.
A: And for security, can you confirm her date of birth and address?
C: Her date of birth is the {{{{date_of_birth:1934-05-21|twenty first of May, nineteen thirty four}}}}, and she lives at {{{{address:9 Linnet Way|nine Linnet Way}}}}, Fenwick Vale, {{{{postcode:HW6 1EZ|H W six, one E Z}}}}.
A: Thank you, that all matches. I can see your mother has a care package of three visits a day from Brightwell Home Care. Can you tell me what's been happening?
C: The morning visit is supposed to be at eight o'clock, because she needs help to get up and take her tablets. But for the last two weeks they've been turning up at half past ten, sometimes eleven. Twice nobody came at all.
A: That's very concerning, especially with her medication.
C: It is. She's diabetic, she can't wait until eleven for her breakfast. Last Thursday I got a call from her neighbour, because she'd been sitting in her chair since the night before.
A: I'm so sorry. Was she hurt?
C: No, thank goodness, but she was very distressed. And when I rang the agency, they just said they were short staffed.
A: Did you report it to us at the time?
C: Yes, I rang on Friday, and the person I spoke to said they'd pass it on to the social worker. But I haven't heard anything.
A: Let me check the notes. Would you mind holding for a moment while I look at her record?
C: Yes, that's fine.
A(hold=150): Thank you for holding, {{{{person_name:Deborah}}}}. I can see the message from Friday. It was sent to her social worker, but she's on leave this week, and it hasn't been picked up by anyone else. I'm sorry, that shouldn't have happened.
C: So it's just been sitting there.
A: Yes, and I apologise. I'm going to do three things now. First, I'm logging a formal complaint about the care agency, and about how your message was handled. Second, I'm sending an urgent alert to the duty social worker, so someone looks at the care package today. Third, I'll ask the commissioning team to contact the agency about the missed visits.
C: Thank you. That's more than anyone's done so far.
A: The duty social worker should call you this afternoon. What's the best number to reach you?
C: My mobile, {{{{phone_number:07700900950|{MOBILE}, nine five oh}}}}.
A: Thank you. And can I take an email address for the complaint acknowledgement?
C: It's {{{{email:debfairweather@example.net|deb fairweather at example dot net}}}}, all one word.
A: Thank you. You'll get an acknowledgement within three working days, and a full response within twenty.
C: Can I also ask about the bill? She's had a letter saying she has to pay more towards her care from April.
A: Yes, the contribution is reviewed every April with the new pension rates. Would you like me to check her financial assessment?
C: Yes, please. She's paying for visits that aren't happening, which doesn't seem right either.
A: That's a fair point. Let me look at her financial assessment. It will take a moment.
A(hold=100): Thank you for waiting. Her weekly contribution goes up by six pounds forty from April, because her pension has gone up. But you're right about the missed visits. I've asked the finance team to refund the visits that didn't happen, and that will be part of the complaint.
C: Okay. How will I know it's been done?
A: The refund will show on her next statement, and the complaint response will confirm the amount.
C: That's good. Honestly, I was dreading this call.
A: I'm glad we could sort some of it out. Could I just check I've got your mobile number right? I have {{{{phone_number:07700900950|{MOBILE}, nine five oh}}}}.
C: That's right.
A: Lovely. Is there anything else I can help with today?
C: No, that's everything. Thank you, Sam, you've been very helpful.
A: You're welcome, {{{{person_name:Deborah}}}}. I hope your mum is better looked after from now on. Thank you for calling, goodbye.
C: Goodbye.
""",
    ),
    Call(
        "childrens_fostering",
        "13:20:00",
        "agent_sam_d",
        "children_services",
        "0113 496 0123",
        ["children_services"],
        None,
        dialogue="""
A: Good afternoon, Harrowden Council, Sam speaking, how can I help?
C: Hi. My husband and I are thinking about fostering, and we wanted to find out more.
A: That's wonderful. We're always looking for foster carers in Harrowden. I can book you onto an information evening. The next one is on the tenth of April, at the Civic Centre on Harrowden Broadway.
C: That sounds great. Do we need to have a spare room?
A: Yes, you'll need a spare bedroom. There's no upper age limit, and you can rent or own your home. Can I take your name?
C: {{person_name:Priti Chauhan}}.
A: And an email address for the invitation?
C: {{email:priti.chauhan@example.co.uk|priti dot chauhan at example dot co dot uk}}.
A: And a phone number?
C: {{phone_number:01134960123|oh one one three, four nine six, oh one two three}}.
A: Thank you. You'll get the invitation by email today, and someone from the fostering team will give you a call before the evening. Is there anything else I can help with?
C: No, that's brilliant, thank you.
A: Thank you for calling, have a lovely day. Goodbye.
""",
    ),
    Call(
        "eh_noise_neighbour",
        "10:40:00",
        "agent_kwame_o",
        "environmental_health",
        "07700 900166",
        ["environmental_health"],
        None,
        dialogue="""
A: Good morning, Harrowden Council, my name's Kwame, how can I help?
C: Hi. I want to complain about my neighbour. He has parties every weekend until four in the morning, and the music is so loud the walls shake. I've got a baby, and we can't sleep.
A: I'm sorry, that sounds exhausting. I can report it to our noise team. Can I take your name and address?
C: {{person_name:Fatima Haddad}}, {{address:Flat 4, 40 Pellow Street|flat four, forty Pellow Street}}, and the postcode is {{postcode:HW3 8RD|H W three, eight R D}}.
A: And where is the noise coming from?
C: The flat above me, flat six.
A: Thank you. I'm opening a noise case. We'll send you diary sheets to record the dates and times. There's also an out of hours noise service on Friday and Saturday nights. If it happens this weekend, call us, and an officer can come and witness it.
C: Okay, that's good. Will he know it was me?
A: No, we don't tell the neighbour who made the report. Is there anything else I can help with?
C: No, that's it. Thank you.
A: Thanks for calling, goodbye.
""",
    ),
    Call(
        "highways_pothole",
        "12:45:00",
        "agent_gemma_l",
        "highways",
        "+44 7700 900734",
        ["highways"],
        None,
        fails=("agent_named", "id_check"),
        dialogue=f"""
A: Good afternoon, Harrowden Council, how can I help?
C: Hi, I want to report a pothole on Sallowfield Avenue, by the bus stop near the junction with Linnet Way. It's really deep. A cyclist nearly came off.
A: Thanks for letting us know. Is it in the road or on the pavement?
C: In the road, right where the bikes go.
A: Okay, I've logged it as a priority defect because of the cyclists. An inspector will look at it within forty eight hours. Can I take a number in case the inspector needs to find it?
C: {{{{phone_number:07700900734|{MOBILE}, seven three four}}}}.
A: Thank you. Your reference is H W R four four one two. Is there anything else I can help with?
C: No, that's it.
A: Thanks for reporting it, goodbye.
""",
    ),
    Call(
        "highways_streetlight_repeat",
        "15:30:00",
        "agent_lucy_h",
        "highways",
        "020 7946 0511",
        ["highways"],
        "repeat_contact",
        repeat=True,
        dialogue="""
A: Good afternoon, Harrowden Council, Lucy speaking, how can I help?
C: Hi. I'm ringing again about the street light outside my house. It's been out for three weeks. I've reported it twice, and nobody seems to have a record of it.
A: I'm sorry about that. Can I take your name and the address?
C: {{person_name:Derek Ashworth}}, {{address:7 Ravensbury Close|seven Ravensbury Close}}.
A: Thank you. I can see a report from last Monday, but it was logged against the wrong column number, so the contractor went to the wrong light.
C: Brilliant. So it's not even been looked at.
A: I've corrected it, and logged it again against the light outside number seven. The repair should be done within five working days.
C: Can you make sure it actually gets done this time? I don't want to be ringing a fourth time.
A: I've marked it as a repeat report, so it gets checked. Is there anything else I can help with?
C: No, thanks.
A: Thanks for calling, goodbye.
""",
    ),
    Call(
        "registrars_death",
        "10:55:00",
        "agent_anna_r",
        "registrars",
        "+44 (0)20 7946 0562",
        ["registrars"],
        None,
        dialogue="""
A: Good morning, Harrowden Council, my name's Anna, how can I help?
C: Hello. My husband passed away on Saturday, and the hospital said I need to register the death.
A: I'm so sorry for your loss. I can book an appointment with the registrar for you. Can I take your husband's full name?
C: {{person_name:Geoffrey Pennington}}.
A: And his date of birth?
C: {{date_of_birth:1947-02-14|fourteenth of February, nineteen forty seven}}.
A: Thank you. Has the doctor sent the medical certificate to the register office?
C: They said they'd send it today.
A: That's fine. The first appointment is Thursday at eleven, at the register office in the Civic Centre, Harrowden Broadway. Can I take your name and a contact number?
C: {{person_name:Maureen Pennington}}, {{phone_number:02079460562|oh two oh, seven nine four six, oh five six two}}.
A: Thank you. Please bring his birth certificate and proof of address if you have them. We'll also tell other council services through Tell Us Once, so you don't have to.
C: Thank you, that's a help.
A: Is there anything else I can help you with today?
C: No, thank you, dear.
A: Take care, {{person_name:Mrs Pennington}}. Goodbye.
""",
    ),
    Call(
        "registrars_docs_clarify",
        "12:30:00",
        "agent_joe_f",
        "registrars",
        "07700 900688",
        ["registrars"],
        "clarification",
        fails=("anything_else_offered",),
        dialogue="""
A: Good afternoon, Harrowden Council, Joe speaking, how can I help?
C: Hi. I've got an appointment to register my daughter's birth on Wednesday, and the confirmation email says to bring identity documents, but it doesn't say which ones.
A: Can I have your name to find the booking?
C: {{person_name:Marcus Reid}}. The email came to {{email:marcus.reid@example.com|marcus dot reid at example dot com}}.
A: Yes, I've got it. Both parents should bring photo identification, like a passport or driving licence, and proof of address, such as a council tax bill. If you're not married, both parents need to come to put the father's name on the certificate.
C: Right, we're not married, so we'll both come. Does the baby need to come?
A: No, the baby doesn't need to be there.
C: Okay, that's clear. The email really should say that.
A: I'll pass that on. Thanks for calling, goodbye.
C: Bye.
""",
    ),
    Call(
        "online_account_repeat_reset",
        "08:55:00",
        "agent_chris_l",
        "online_account",
        "0044 20 7946 0907",
        ["online_account"],
        "repeat_contact",
        repeat=True,
        fails=("greeting",),
        dialogue="""
A: Chris speaking.
C: Oh, hi. Is this the council? I'm locked out of my online account again. I rang on Friday and they said it was unlocked, but it still won't let me in.
A: Yes, it's the council. Can I take the email address on the account?
C: {{email:j.smith@gmail.com|j dot smith at gmail dot com}}.
A: And your name and postcode?
C: {{person_name:Jennifer Smith}}, {{postcode:HW6 1EY|H W six, one E Y}}.
A: Thanks. I can see it was unlocked on Friday, but then there were five more failed log in attempts on Saturday, so it locked itself again.
C: That was me trying the old password, because nobody told me to reset it.
A: Okay. I've unlocked it again, and I've sent a reset link to your email. Use the link within an hour, choose a new password, and it will work.
C: Right. Hopefully that's the last time.
A: Is there anything else I can help with?
C: No.
A: Thanks for calling, bye.
""",
    ),
    Call(
        "online_payment_error",
        "16:40:00",
        "agent_anna_r",
        "online_account",
        "07700 900840",
        ["online_account", "council_tax"],
        "service_failure",
        dialogue="""
A: Good afternoon, Harrowden Council, Anna speaking, how can I help?
C: Hi. I tried to pay my council tax on your website three times this morning, and it keeps showing an error at the end. I don't know if it's taken the money or not.
A: I'm sorry about that, we've had problems with the payment page today. Can I take your council tax account number?
C: {{account_reference:50229014|five oh two two, nine oh one four}}.
A: And your name and the first line of the address?
C: {{person_name:Oluwaseun Adeyemi}}, {{address:18 Linnet Way|eighteen Linnet Way}}.
A: Thank you. None of the three payments went through, so nothing has been taken. I can take the payment over the phone now if you like.
C: Yes, let's do that. The card number is {{payment_card:5555555555554444|five five five five, five five five five, five five five five, four four four four}}.
A: Thank you. And that's for the March instalment of one hundred and forty two pounds?
C: Yes.
A: That's gone through. I'll report the website fault as well. Is there anything else I can help with?
C: No, that's all.
A: Thanks for calling, and sorry for the trouble. Goodbye.
""",
    ),
    Call(
        "two_reasons_moving_house",
        "11:35:00",
        "agent_dave_m",
        "council_tax",
        "07700 900593",
        ["council_tax", "waste_recycling"],
        None,
        dialogue="""
A: Good morning, Harrowden Council, my name's Dave, how can I help?
C: Hi. I'm moving house within the borough next week, so I need to change my council tax. And I also need to order bins for the new place, because there aren't any there.
A: No problem, I can do both. Let's start with the council tax. Can I take your account number?
C: {{account_reference:50317722|five oh three one, seven seven two two}}.
A: And your name and date of birth?
C: {{person_name:Hannah Kowalski}}, {{date_of_birth:1988-08-03|third of August, nineteen eighty eight}}.
A: Thank you. What's the new address, and the date you move in?
C: {{address:56 Orchard Rise|fifty six Orchard Rise}}, {{postcode:HW9 4TF|H W nine, four T F}}. We get the keys on the seventh of April.
A: Thank you. I've closed the old account from the sixth, and opened the new one from the seventh. You'll get a final bill and a new bill in the post. Now for the bins. I've ordered a general waste bin, a recycling bin and a food caddy for Orchard Rise. They'll be delivered within ten working days.
C: Great. And which day is collection there?
A: Orchard Rise is collected on Fridays.
C: Perfect, that's everything sorted then.
A: Is there anything else I can help with?
C: No, thank you very much.
A: You're welcome. Good luck with the move. Goodbye.
""",
    ),
    Call(
        "other_passport_wrong_org",
        "13:55:00",
        "agent_joe_f",
        "other",
        "withheld",
        ["other"],
        "wrong_routing",
        fails=("id_check", "anything_else_offered", "closing"),
        dialogue="""
A: Good afternoon, Harrowden Council, Joe speaking, how can I help?
C: Hi, I need to renew my passport urgently. I'm flying on Friday. Can you book me an appointment?
A: I'm afraid passports aren't a council service. You need to contact the Passport Office directly. They do urgent appointments.
C: Oh. The website said to ring this number.
A: That would be for the register office. For passports, search for the Passport Office on the gov dot uk website, or ring their advice line.
C(overlap=0.4): Okay, I'll look it up.
""",
    ),
    Call(
        "other_electoral_register",
        "15:00:00",
        "agent_chris_l",
        "other",
        "0151 496 0321",
        ["other"],
        None,
        layout="mono",
        dialogue="""
A: Good afternoon, Harrowden Council, Chris speaking, how can I help?
C: Hi. I moved to Harrowden in January, and I want to check I'm on the electoral register, so I can vote in May.
A: I can check that for you. Can I take your full name and address?
C: {{person_name:Ravi Iyer}}, {{address:22 Tanner's Lane|twenty two Tanner's Lane}}, {{postcode:HW8 6GD|H W eight, six G D}}.
A: Thank you. Yes, you're registered at that address. You were added in February.
C: Oh good. And will I get a polling card?
A: Yes, polling cards go out in early April, and it will tell you where your polling station is. It's likely to be the community hall on Tanner's Lane.
C: Brilliant, thank you.
A: Is there anything else I can help with?
C: No, that's all.
A: Thanks for calling, goodbye.
""",
    ),
    Call(
        "silent_line",
        "12:00:30",
        "agent_kwame_o",
        "waste_recycling",
        "07700 900901",
        [],
        None,
        status="no_speech",
        duration_s=40.0,
    ),
    Call(
        "corrupt_recording",
        "14:20:00",
        "agent_tom_b",
        "council_tax",
        "(020) 7946 0990",
        [],
        None,
        status="unreadable",
        duration_s=95.0,
    ),
]
